"""One minimal, real app per framework, wired exactly as the README's used-by lines."""
