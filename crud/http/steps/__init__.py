"""The steps of a list request, one module each; a profile lists the ones it uses."""
