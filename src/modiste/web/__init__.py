"""Server-rendered pages (Jinja) and a little vanilla JS; no build step."""
