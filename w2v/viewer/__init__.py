"""A local web page to explore word vectors: neighbours, analogies, a 2-D map, the model's facts."""
