"""Master patient index: pure normalisation of the fields records are matched on."""
