// Example parameters for infra/main.bicep; copy and adjust per environment. Holds no secrets: those live in Key Vault.
using './main.bicep'

// azd sets AZURE_ENV_NAME (and reads this file or main.parameters.json); `az deployment group create` gets 'prod'.
param environmentName = readEnvironmentVariable('AZURE_ENV_NAME', 'prod')
// FlexConsumption (serverless, the default) or Dedicated; planSku, maximumInstances and the autoscale
// parameters apply to Dedicated only, flexMaximumInstances and flexInstanceMemoryMB to Flex Consumption only.
param hostingPlan = 'FlexConsumption'
param planSku = 'P0v3'
param minimumInstances = 2
param maximumInstances = 10
param fhirVersion = 'STU3'

// One entry per distinct --secret-setting used by `python -m admin tenant set`.
param upstreamSecretNames = [
  'UPSTREAM_SECRET_CONTOSO'
]
