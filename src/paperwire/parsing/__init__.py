"""Records as they come from outside (files, the Hugging Face API): reading streams of them
(:mod:`.reading`) and turning each into a :class:`~paperwire.models.Paper` and its signals
(:mod:`.formats`). Pure functions over data; shared by the importers and the live sources."""
