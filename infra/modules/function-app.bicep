// Linux Function App (Python 3.13, v1 programming model) on a Flex Consumption or a Dedicated plan, and its app
// settings; secrets only as Key Vault references.

@description('Required. Name of the Function App (also the first label of its default host name).')
param name string

@description('Optional. Azure region of the Function App.')
param location string = resourceGroup().location

@description('Required. Resource ID of the plan (Flex Consumption or Linux App Service plan).')
param planId string

@description('Optional. The plan\'s kind: FlexConsumption (serverless, the default) or Dedicated (App Service plan).')
@allowed([
  'FlexConsumption'
  'Dedicated'
])
param hostingPlan string = 'FlexConsumption'

@description('Optional. Python version the app runs (docs/deploy.md, "Python version").')
@allowed([
  '3.13'
])
param pythonVersion string = '3.13'

@description('Optional. Flex Consumption: URL of the blob container the deployment package is uploaded to and read from with the user-assigned identity.')
param deploymentContainerUrl string = ''

@description('Optional. Flex Consumption: always-ready instances of the HTTP group (every function here is HTTP).')
@minValue(0)
@maxValue(30)
param alwaysReadyInstances int = 2

@description('Optional. Flex Consumption: the most instances the app scales out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Optional. Flex Consumption: memory of each instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Required. Resource ID of the user-assigned managed identity the app runs as.')
param identityResourceId string

@description('Required. Client ID of that identity (selects it for storage, Key Vault and Application Insights).')
param identityClientId string

@description('Required. Name of the storage account used for AzureWebJobsStorage.')
param storageAccountName string

@description('Required. Table service endpoint of the registry (REGISTRY_TABLE_ENDPOINT).')
param tableEndpoint string

@description('Required. Name of the Key Vault the app settings reference.')
param keyVaultName string

@description('Required. URI of the Key Vault holding tenants\' provider secrets (PROVIDER_SECRETS_VAULT_URL).')
param providerSecretsVaultUri string

@description('Required. Application Insights connection string.')
param applicationInsightsConnectionString string

@description('Required. Public https base URL clients call (GATEWAY_PUBLIC_BASE_URL), without a trailing slash; main.bicep computes the default.')
param publicBaseUrl string

@description('Optional. FHIR version the metadata endpoint announces (GATEWAY_FHIR_VERSION).')
@allowed([
  'DSTU2'
  'STU3'
  'R4'
])
param fhirVersion string = 'STU3'

@description('Optional. App setting names holding tenants\' upstream secrets; each reads the Key Vault secret named like the setting in lower case with dashes.')
param upstreamSecretNames array = []

@description('Optional. Threads of the Python worker per instance (PYTHON_THREADPOOL_THREAD_COUNT).')
@minValue(1)
@maxValue(64)
param pythonThreadCount int = 32

@description('Optional. azd service name this app hosts (the azd-service-name tag azd deploy looks for).')
param azdServiceName string = 'api'

@description('Optional. Application (client) id of the registration portal\'s multi-tenant Entra ID app registration; empty turns the portal off (docs/portal.md).')
param portalClientId string = ''

@description('Optional. Entra ID authority of the portal\'s sign-in.')
param portalAuthority string = 'https://login.microsoftonline.com/organizations'

@description('Optional. The partner\'s own tenant id: only its users can be portal operators.')
param portalOperatorTenantId string = ''

@description('Optional. Comma-separated object ids of operators without the Portal.Operator app role.')
param portalOperatorObjectIds string = ''

@description('Optional. Whom customers ask to onboard their tenant (shown on the portal\'s pages).')
param portalSupportContact string = ''

@description('Optional. Tags applied to the Function App.')
param tags object = {}

var isFlex = hostingPlan == 'FlexConsumption'

// Dedicated only: Flex Consumption takes the runtime from functionAppConfig.runtime and builds through its own
// deployment API, and deprecates these settings (docs/deploy.md).
var dedicatedOnlySettings = [
  {
    name: 'FUNCTIONS_EXTENSION_VERSION'
    value: '~4'
  }
  {
    name: 'FUNCTIONS_WORKER_RUNTIME'
    value: 'python'
  }
  // The remote-build settings `func azure functionapp publish` sets on Linux Dedicated apps; declared here so a
  // later template deployment does not remove them.
  {
    name: 'SCM_DO_BUILD_DURING_DEPLOYMENT'
    value: '1'
  }
  {
    name: 'ENABLE_ORYX_BUILD'
    value: 'true'
  }
  {
    name: 'BUILD_FLAGS'
    value: 'UseExpressBuild'
  }
  {
    name: 'XDG_CACHE_HOME'
    value: '/tmp/.cache'
  }
]

// Settings the Functions host, the Python worker and azure-identity read, on either plan.
var runtimeSettings = [
  {
    name: 'AzureWebJobsStorage__accountName'
    value: storageAccountName
  }
  {
    name: 'AzureWebJobsStorage__credential'
    value: 'managedidentity'
  }
  {
    name: 'AzureWebJobsStorage__clientId'
    value: identityClientId
  }
  {
    // DefaultAzureCredential picks the user-assigned identity by this client ID.
    name: 'AZURE_CLIENT_ID'
    value: identityClientId
  }
  {
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
    value: applicationInsightsConnectionString
  }
  {
    name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
    value: 'ClientId=${identityClientId};Authorization=AAD'
  }
  {
    // The worker's default is min(32, CPUs + 4): 5 threads on a 1-vCPU P0v3, so 5 requests waiting on slow
    // providers would fill an instance at a few percent CPU. See docs/deploy.md.
    name: 'PYTHON_THREADPOOL_THREAD_COUNT'
    value: string(pythonThreadCount)
  }
  {
    // The host buffers a request body up to this size before any function sees it (default 100 MiB): keep it to
    // the largest body a route accepts, a 1 MiB batch Bundle, plus room for its headers. See README, "Local host".
    name: 'FUNCTIONS_REQUEST_BODY_SIZE_LIMIT'
    value: '1114112'
  }
]

// Settings from the gateway's catalogue (shared/settings.py); the others keep their documented defaults.
var gatewaySettings = [
  {
    // A parameter rather than read from the site: the app settings are part of the site and cannot refer to it.
    name: 'GATEWAY_PUBLIC_BASE_URL'
    value: publicBaseUrl
  }
  {
    name: 'GATEWAY_FHIR_VERSION'
    value: fhirVersion
  }
  {
    name: 'REGISTRY_TABLE_ENDPOINT'
    value: tableEndpoint
  }
  {
    // Read and written with the app's managed identity (AZURE_CLIENT_ID) through DefaultAzureCredential.
    name: 'PROVIDER_SECRETS_VAULT_URL'
    value: providerSecretsVaultUri
  }
  {
    name: 'TOKEN_SIGNING_KEY'
    value: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=token-signing-key)'
  }
  {
    // Until the first rotation this secret holds the current key again; the gateway publishes it once.
    name: 'TOKEN_SIGNING_KEY_PREVIOUS'
    value: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=token-signing-key-previous)'
  }
  {
    // Published and accepted, never signs: the first step of a rotation. Holds the current key otherwise.
    name: 'TOKEN_SIGNING_KEY_NEXT'
    value: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=token-signing-key-next)'
  }
  {
    // The gateway's own client-assertion key towards SMART Backend Services providers (smart_backend tenants),
    // never the token signing key. Its public JWKS is /.well-known/smart-client-jwks.json.
    name: 'UPSTREAM_CLIENT_KEY'
    value: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=upstream-client-key)'
  }
  {
    // Published, never signs: the first step of a client-key rotation. Holds the current key otherwise.
    name: 'UPSTREAM_CLIENT_KEY_NEXT'
    value: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=upstream-client-key-next)'
  }
  {
    // Still published after a rotation until retired. Holds the current key otherwise.
    name: 'UPSTREAM_CLIENT_KEY_PREVIOUS'
    value: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=upstream-client-key-previous)'
  }
]

// The registration portal (docs/portal.md); the two secrets live in Key Vault.
var portalSettings = [
  {
    name: 'PORTAL_CLIENT_ID'
    value: portalClientId
  }
  {
    name: 'PORTAL_CLIENT_SECRET'
    value: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=portal-client-secret)'
  }
  {
    name: 'PORTAL_SESSION_KEY'
    value: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=portal-session-key)'
  }
  {
    name: 'PORTAL_AUTHORITY'
    value: portalAuthority
  }
  {
    name: 'PORTAL_OPERATOR_TENANT_ID'
    value: portalOperatorTenantId
  }
  {
    name: 'PORTAL_OPERATOR_OBJECT_IDS'
    value: portalOperatorObjectIds
  }
  {
    name: 'PORTAL_SUPPORT_CONTACT'
    value: portalSupportContact
  }
]

var upstreamSecretSettings = [for settingName in upstreamSecretNames: {
  name: settingName
  value: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${toLower(replace(settingName, '_', '-'))})'
}]

// Flex Consumption: runtime, scaling and the deployment container live here instead of in siteConfig and settings.
var flexConfig = {
  deployment: {
    storage: {
      type: 'blobContainer'
      value: deploymentContainerUrl
      authentication: {
        type: 'UserAssignedIdentity'
        userAssignedIdentityResourceId: identityResourceId
      }
    }
  }
  scaleAndConcurrency: {
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    // Warm instances (and their caches) for the HTTP group, which holds every function of this app.
    alwaysReady: [
      {
        name: 'http'
        instanceCount: alwaysReadyInstances
      }
    ]
    triggers: {
      http: {
        // As many requests per instance as the worker has threads; the Python default is 1 (docs/deploy.md).
        perInstanceConcurrency: pythonThreadCount
      }
    }
  }
  runtime: {
    name: 'python'
    version: pythonVersion
  }
}

resource functionApp 'Microsoft.Web/sites@2023-12-01' = {
  // checkov:skip=CKV_AZURE_212:Instances are counted on the plan (capacity = minimumInstances, 2 by default, plus autoscale); numberOfWorkers only applies to per-app scaling.
  // checkov:skip=CKV_AZURE_17:Client certificates are not part of the SMART backend services flow the gateway implements.
  // checkov:skip=CKV_AZURE_222:The gateway is a public endpoint by design; every FHIR route requires a bearer token.
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': azdServiceName
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityResourceId}': {}
    }
  }
  properties: {
    serverFarmId: planId
    reserved: true
    httpsOnly: true
    clientAffinityEnabled: false
    publicNetworkAccess: 'Enabled'
    keyVaultReferenceIdentity: identityResourceId
    functionAppConfig: isFlex ? flexConfig : null
    siteConfig: {
      // Flex Consumption sets none of these three: its runtime is functionAppConfig.runtime, it has no Always On,
      // and App Service's health check (an instance failing /health leaves the rotation) is a Dedicated feature.
      linuxFxVersion: isFlex ? null : 'Python|${pythonVersion}'
      alwaysOn: !isFlex
      healthCheckPath: isFlex ? null : '/health'
      http20Enabled: true
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      appSettings: concat(isFlex ? [] : dedicatedOnlySettings, runtimeSettings, gatewaySettings, portalSettings, upstreamSecretSettings)
    }
  }
}

resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

@description('Resource name of the Function App.')
output name string = functionApp.name

@description('Resource ID of the Function App.')
output resourceId string = functionApp.id

@description('Default host name Azure assigned to the app.')
output defaultHostName string = functionApp.properties.defaultHostName

@description('Public base URL the app advertises (GATEWAY_PUBLIC_BASE_URL).')
output gatewayBaseUrl string = publicBaseUrl
