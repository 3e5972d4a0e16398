"""connectors/bitrix24"""
