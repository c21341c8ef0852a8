// One of Skyloop's Function Apps (main.bicep deploys four from the same package): its own
// user-assigned identity, the host on the shared host storage account, and every function but its
// own (and `invoke`, which calls only what this app's identity may do) disabled. The roles on
// Skyloop's data are main.bicep's, per app; here only what every host needs.

@description('The function group this app runs: train, deploy, detect or remediate.')
param group string

@description('The app name (globally unique: it is the host name).')
param appName string

param location string

@description('The Consumption plan the apps share.')
param planId string

@description('The host storage account (the Functions host and the Durable task hub; no Skyloop data).')
param hostStorageName string

@description('The functions this app runs; every other function of function_app.py is disabled here.')
param functions array

@description('Every function function_app.py defines.')
param allFunctions array

@description('Skyloop settings every app reads (name/value pairs).')
param settings array

param insightsConnectionString string

var disabled = [for fn in allFunctions: {
  name: 'AzureWebJobs.${fn}.Disabled'
  value: (contains(functions, fn) || fn == 'invoke') ? 'false' : 'true'
}]

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${appName}-id'
  location: location
}

resource app 'Microsoft.Web/sites@2023-12-01' = {
  // checkov:skip=CKV_AZURE_222:Event Grid and the action group deliver to the public endpoint (no private endpoint on Consumption); each function requires its key or Event Grid's validated subscription
  // checkov:skip=CKV_AZURE_212:the Consumption plan scales instances from zero on demand; a minimum instance count is a Premium-plan setting
  // checkov:skip=CKV_AZURE_213:health check needs two or more always-on instances; event-driven functions on Consumption have none to route around
  name: appName
  location: location
  kind: 'functionapp,linux'
  tags: {
    'skyloop-group': group
  }
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: planId
    httpsOnly: true
    clientCertEnabled: true
    clientCertMode: 'OptionalInteractiveUser' // Event Grid and action groups present no client certificate
    siteConfig: {
      linuxFxVersion: 'Python|3.11'
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: concat([
        { name: 'FUNCTIONS_EXTENSION_VERSION', value: '~4' }
        { name: 'FUNCTIONS_WORKER_RUNTIME', value: 'python' }
        // the host's own storage, by identity, on the host account (no Skyloop data there)
        { name: 'AzureWebJobsStorage__accountName', value: hostStorageName }
        { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
        { name: 'AzureWebJobsStorage__clientId', value: identity.properties.clientId }
        { name: 'AZURE_CLIENT_ID', value: identity.properties.clientId } // DefaultAzureCredential picks this identity
        { name: 'SKYLOOP_QUEUES__credential', value: 'managedidentity' } // the remediation queue trigger's connection
        { name: 'SKYLOOP_QUEUES__clientId', value: identity.properties.clientId }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insightsConnectionString }
        { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'Authorization=AAD;ClientId=${identity.properties.clientId}' }
      ], settings, disabled)
    }
  }
}

output id string = app.id
output name string = app.name
output hostName string = app.properties.defaultHostName
output principalId string = identity.properties.principalId
