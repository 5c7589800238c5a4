"""The model protocol: everything between the loop and the OpenAI-compatible server.

client.py      `VideoLLM` (the Protocol the rest depends on) and `OpenAIVideoLLM`, the one
               module that talks to the server: retries, timeouts, replicas, error mapping
sdk.py         the one import of the `openai` SDK, its type packages read on demand
traffic.py     counting the HTTP requests and retries sent to the server
completion.py  a reply as the loop uses it: text, token counts, tool calls
replicas.py    several servers behind one client (least outstanding requests first)
messages.py    chat content parts: text, JPEG frames with their timestamps, within budgets
replies.py     reading a reply: think blocks, Hermes ``<tool_call>`` text, tool calls
meter.py       the per-question usage meter that enforces the call and frame budget
perceiver.py   the model as tools see it (`tools.Perceiver`)
captioner.py   the model as the memory sees it (`memory.Captioner`)
"""
