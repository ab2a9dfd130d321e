// Autoscale of the App Service plan: on CPU, and on requests per instance, because an instance whose worker
// threads all wait on slow providers is busy at a few percent CPU. Scale-in needs every scale-in rule to hold.

@description('Required. Name of the autoscale setting.')
param name string

@description('Optional. Azure region of the autoscale setting.')
param location string = resourceGroup().location

@description('Required. Resource ID of the App Service plan to scale.')
param planId string

@description('Required. Resource ID of the Function App whose requests are counted.')
param siteId string

@description('Optional. Instances that always run.')
@minValue(1)
@maxValue(30)
param minimumInstances int = 2

@description('Optional. Autoscale ceiling (at most 10 on Standard, 30 on Premium v3).')
@minValue(1)
@maxValue(30)
param maximumInstances int = 10

@description('Optional. Requests per minute per instance, averaged over 5 minutes, above which one instance is added; below a third of it (and CPU below 30 %) for 10 minutes, one is removed.')
@minValue(60)
param requestsPerInstanceScaleOut int = 900

@description('Optional. Tags applied to the autoscale setting.')
param tags object = {}

resource autoscale 'Microsoft.Insights/autoscalesettings@2022-10-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    enabled: true
    targetResourceUri: planId
    profiles: [
      {
        name: 'cpu-and-requests'
        capacity: {
          minimum: string(minimumInstances)
          maximum: string(max(minimumInstances, maximumInstances))
          default: string(minimumInstances)
        }
        rules: [
          {
            metricTrigger: {
              metricName: 'CpuPercentage'
              metricResourceUri: planId
              timeGrain: 'PT1M'
              statistic: 'Average'
              timeWindow: 'PT5M'
              timeAggregation: 'Average'
              operator: 'GreaterThan'
              threshold: 70
            }
            scaleAction: {
              direction: 'Increase'
              type: 'ChangeCount'
              value: '1'
              cooldown: 'PT5M'
            }
          }
          {
            // Requests each instance takes per minute: with the worker's threads each held for a provider's
            // answer, this is what fills an instance (docs/deploy.md explains the default).
            metricTrigger: {
              metricName: 'Requests'
              metricNamespace: 'Microsoft.Web/sites'
              metricResourceUri: siteId
              timeGrain: 'PT1M'
              statistic: 'Sum'
              timeWindow: 'PT5M'
              timeAggregation: 'Average'
              operator: 'GreaterThan'
              threshold: requestsPerInstanceScaleOut
              dividePerInstance: true
            }
            scaleAction: {
              direction: 'Increase'
              type: 'ChangeCount'
              value: '1'
              cooldown: 'PT5M'
            }
          }
          {
            metricTrigger: {
              metricName: 'CpuPercentage'
              metricResourceUri: planId
              timeGrain: 'PT1M'
              statistic: 'Average'
              timeWindow: 'PT10M'
              timeAggregation: 'Average'
              operator: 'LessThan'
              threshold: 30
            }
            scaleAction: {
              direction: 'Decrease'
              type: 'ChangeCount'
              value: '1'
              cooldown: 'PT10M'
            }
          }
          {
            // A third, not a half: one instance fewer must not put the others straight above the scale-out line.
            metricTrigger: {
              metricName: 'Requests'
              metricNamespace: 'Microsoft.Web/sites'
              metricResourceUri: siteId
              timeGrain: 'PT1M'
              statistic: 'Sum'
              timeWindow: 'PT10M'
              timeAggregation: 'Average'
              operator: 'LessThan'
              threshold: requestsPerInstanceScaleOut / 3
              dividePerInstance: true
            }
            scaleAction: {
              direction: 'Decrease'
              type: 'ChangeCount'
              value: '1'
              cooldown: 'PT10M'
            }
          }
        ]
      }
    ]
  }
}

@description('Resource ID of the autoscale setting.')
output resourceId string = autoscale.id
