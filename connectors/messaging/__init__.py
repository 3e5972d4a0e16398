"""connectors/messaging"""
