"""The serving defaults users can change (each a CLI option), apart from the models that use
them so that the CLI and the API signatures read them without importing serving or the plan."""

DEFAULT_TOKEN_BUDGET = 8192  # vLLM's max_num_batched_tokens for its OpenAI server
DEFAULT_MEMORY_UTILIZATION = 0.9  # vLLM's --gpu-memory-utilization
MAX_PLAN_CONCURRENCY = 1024  # the plan tries concurrencies 1 to this
