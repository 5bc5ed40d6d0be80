"""Framework integrations: ``sr_sec_async.integrations.fastapi`` (FastAPI and
Starlette) and ``sr_sec_async.integrations.aiohttp``. Each imports its
framework, so import the one you use; the core never imports them."""
