"""WTForms classes, one module per blueprint; they check shape, the services check rules."""
