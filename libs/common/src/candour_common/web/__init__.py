"""The shared look and the safety rails of Candour's server-rendered pages.

Each service serves the pages for its own part; this package gives them one
layout and stylesheet, autoescaping Jinja2, CSRF protection for every
state-changing form, and a cookie that keeps a bearer token for signed-in staff.
"""
