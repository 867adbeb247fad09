"""Running trials: cross-validation, isolation, the LLM-TPE sampler, runs and shared studies."""
