"""Tests that drive the pages in a real headless browser (Debian chromium + Playwright)."""
