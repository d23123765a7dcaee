"""The portal's own date and number formats, where Django's defaults would read badly in an
admin center (settings.FORMAT_MODULE_PATH points here; a language without a module here keeps
Django's formats). Every page formats through the filters in portal_format, which use these."""
