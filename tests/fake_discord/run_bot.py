"""``python tests/fake_discord/run_bot.py [bot args]``: ``python -m bot`` pointed at a fake Discord.

For tests only. FAKE_DISCORD_PORT names the fake's port on 127.0.0.1; the rest is exactly
``python -m bot`` (token from DISCORD_TOKEN, config, logging, exit status).
"""

import os
import runpy
import sys

import discord.gateway
import discord.http
import yarl

port = int(os.environ["FAKE_DISCORD_PORT"])
discord.http.Route.BASE = f"http://127.0.0.1:{port}/api/v10"
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(f"ws://127.0.0.1:{port}/gateway")
sys.argv = ["python -m bot", *sys.argv[1:]]
runpy.run_module("bot", run_name="__main__", alter_sys=True)
