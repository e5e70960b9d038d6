"""The benchmark side: the glyph data set, the focal-vs-ASL comparison and study, their analysis."""
