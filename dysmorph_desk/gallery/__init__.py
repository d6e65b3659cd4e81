"""The clinic gallery: disorders matched by face without retraining (``.ddgallery``).

A gallery holds, per entry, a disorder id (``OMIM:``, ``ORPHA:`` or a clinic's ``LOCAL:`` id), the
disorder's name, a pseudonymous patient id, where the entry came from, and the L2-normalised
embedding each model bundle gives the entry's photo (the photo itself only when asked for). A photo
being screened is ranked against it by cosine distance: GestaltMatcher's "clinical face phenotype
space", offline and private to the clinic.

Modules: ``ids`` (disorder and patient ids), ``store`` (the SQLite file: read, verify, write),
``signing`` (Ed25519 signatures with the bundles' keys and trust store), ``ranking`` (disorders by
distance, "no close match"), ``calibration`` (the no-match threshold from unrelated children),
``embed`` (photos to embeddings through the screening pipeline), ``links`` (entries from the case
store, deleted with their case). No Qt, no torch. See docs/gallery.md.
"""
