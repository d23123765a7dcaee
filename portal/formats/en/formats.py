# "Dec 4, 2026, 14:38": no "p.m." whose stop doubles at the end of a sentence, and one
# 24-hour clock on every page.
DATE_FORMAT = "M j, Y"
DATETIME_FORMAT = "M j, Y, H:i"
SHORT_DATE_FORMAT = "M j, Y"
SHORT_DATETIME_FORMAT = "M j, Y, H:i"
DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
