"""LLM input and output: the chat-model factory and the parsing of answers."""
