"""Headless Lore: the HTTP API, the MCP server, access keys and the runtime they share."""
