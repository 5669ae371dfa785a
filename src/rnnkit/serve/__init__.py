"""The playground: a FastAPI app that streams generated text to a page served offline.

Needs the `serve` extra (FastAPI, uvicorn).
"""
