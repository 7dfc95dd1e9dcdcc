"""The Rasa side's process tools: what the Rasa server loads besides the model, and how the stack's processes start.

Custom NLU components, channel and endpoint configuration; :mod:`bot.launcher` starts the action server, Rasa and
the gateway as subprocesses (tests and benchmarks), :mod:`bot.ready` waits until they answer (``make run``).
"""
