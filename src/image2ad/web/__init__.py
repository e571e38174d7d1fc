"""Server-rendered pages: accounts, the four generators, the Library and job pages."""
