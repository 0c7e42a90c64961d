"""Finding the song a person means: the title index, match scoring and the resolver."""
