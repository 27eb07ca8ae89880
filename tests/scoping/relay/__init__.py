"""A relay: chunked numeric blocks sent over SSH-like channels. Local names (imports made in a
function, parameters, loop and comprehension variables...) that are spelt like module names."""
