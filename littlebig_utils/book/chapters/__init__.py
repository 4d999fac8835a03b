"""One module per notebook, named after it: code that only that chapter uses (the file path
says which chapter owns it)."""
