"""Recommendations that learn: a per-reader model over stored vectors and TF-IDF rows
(:mod:`.model`, :mod:`.lexical`, both pure), and :mod:`.service`, which reads what it needs
from the store and the search engine."""

from paperwire.recommend.model import DEFAULT, MIN_POSITIVES, Params, Recommendation, rank

__all__ = ["DEFAULT", "MIN_POSITIVES", "Params", "Recommendation", "rank"]
