"""The web console's pages (/ui/...), rendered on the server with Jinja2 from templates/ on the shared base layout;
static files (the console's CSS and scripts, vendored ECharts) under /static/. Chinese by default, English with
``?lang=en`` (kept in a cookie)."""
