"""Small FastAPI and aiohttp apps instrumented with sr_sec_async."""
