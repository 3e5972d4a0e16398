"""sandbox/bitrix24"""
