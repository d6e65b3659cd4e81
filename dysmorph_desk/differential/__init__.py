"""The differential diagnosis: a clinic gallery's gestalt distances fused with HPO phenotype scores.

``fusion`` ranks candidate disorders from both sources; ``metrics`` turns ranks of the true
disorder into the top-k accuracies the GestaltMatcher papers report, each with its interval and n.
"""
