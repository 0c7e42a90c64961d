"""Finding the song a person means: strings (the string index), scoring (match scores and the
confidence rule), index (the catalog's title index), cache (the index saved beside the dataset)
and resolver (TitleResolver: reading, ranking and answering what people type)."""
