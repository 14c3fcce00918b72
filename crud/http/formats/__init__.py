"""Export formats: one ``StreamRenderer`` per module (``crud.http.renderers``)."""
