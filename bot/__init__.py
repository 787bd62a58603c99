"""The Telegram side: composition root, routers, middlewares, translations and the CLI."""
