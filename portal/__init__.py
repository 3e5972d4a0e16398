"""The client managers' portal: pages embedded in Bitrix24, served by the bridge."""
