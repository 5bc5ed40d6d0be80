import sr_sec_async


def test_all_is_sorted_and_complete() -> None:
    names = sr_sec_async.__all__
    assert names == sorted(names)
    public = {n for n in dir(sr_sec_async) if not n.startswith("_")}
    modules = {"api", "breaker", "caller", "config", "environment", "errors", "events", "fields"}
    modules |= {"logger", "publisher", "results", "signatures", "sinks", "supervisor"}
    modules |= {"validation", "wire", "local_faults", "local_sns", "spool"}
    modules |= {"cloudwatch", "context", "integrations", "pytest_plugin", "testing"}
    assert public - modules - set(names) == set()
    for name in names:
        assert hasattr(sr_sec_async, name), name
