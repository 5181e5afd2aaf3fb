"""The knowledge base: entries, readers of sources, import plans, the SQLite store, the seed and the retriever."""
