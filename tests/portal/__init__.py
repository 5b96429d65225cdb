"""Tests of the portal's data layer: models, migrations, tenancy."""
