"""Members' own listening from ListenBrainz: the API client (:mod:`.client`), matching listens
to catalog songs (:mod:`.matching`) and the listens a retrain may learn from (:mod:`.training`)."""
