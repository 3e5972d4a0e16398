"""connectors/onec"""
