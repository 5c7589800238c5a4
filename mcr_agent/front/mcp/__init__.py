"""`mcr-agent mcp`: the agent as tools of a Model Context Protocol server (the `mcp` SDK).

server.py   the command: options, transports (stdio, streamable HTTP), start-up checks
tools.py    the server: its MCP tools and resources over one `Agent`
views.py    what each tool returns: structured content and its text
bridge.py   allowed roots, progress notifications and cancellation between MCP and the agent
"""
