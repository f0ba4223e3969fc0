"""ML8xx (and ML98x) rules: concurrency, asyncio, multiprocessing."""
