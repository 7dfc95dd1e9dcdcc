"""Storage: the database (engine, models, repository functions returning plain records), migrations, model files.

May import domain and the base modules only.
"""
