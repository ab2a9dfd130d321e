"""The registration portal: customer admins manage their tenant's app accounts, operators onboard tenants."""
