"""The web surface: the FastAPI app (:func:`paperwire.web.app.create_app`) and its routers."""
