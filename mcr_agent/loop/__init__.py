"""The MCR loop: a LangGraph state machine over the video memory.

graph.py      every edge of the loop (`build_graph`) and the routers, pure functions
nodes.py      the nodes by name, timed; importing them loads no LangGraph
opening.py    observe, route and the first reason run ahead of the graph, whose import
              (~0.8 s in a fresh process) then overlaps the first model call
state.py      the state: context C, feedback F, visual evidence V, belief, budget used
runtime.py    `Deps`, what one run depends on (model, memory, tools, config)
observe.py  route.py  reason.py  act.py  update.py  verify.py  answer.py
              one module per node, each with the typed update it returns
prefetch.py   evidence fetched for the question's route before the first step
notes.py      the context C as the model reads it, and its compression
spans.py      time spans: read from prose, clamped, merged, overlapped
options.py    multiple-choice options and the letter a reply chose
toolset.py    the tools offered to the reasoner, their schemas, the `answer` tool
direct.py     the single-pass baseline (``--mode direct``)
"""
