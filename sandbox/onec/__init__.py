"""sandbox/onec"""
