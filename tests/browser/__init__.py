"""Browser tests of the FastAPI example's pages (Playwright driving Debian's Chromium)."""
